//! Users and tokens for a run: registered and signed in through the auth API, or read
//! from a file.

use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use serde_json::json;

use crate::Common;

pub const PASSWORD: &str = "bench-password";

/// Registers (if needed) and signs in `count` users named `<prefix><offset+i>`.
pub fn tokens(common: &Common, offset: usize, count: usize) -> anyhow::Result<Vec<String>> {
    if let Some(path) = &common.tokens {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let all: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        anyhow::ensure!(
            all.len() >= offset + count,
            "{} holds {} tokens; {} needed",
            path.display(),
            all.len(),
            offset + count
        );
        return Ok(all[offset..offset + count].to_vec());
    }
    let next = AtomicUsize::new(0);
    let mut out = vec![String::new(); count];
    let threads = 8.min(count.max(1));
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<Vec<(usize, String)>> {
                    let agent = ureq::AgentBuilder::new().build();
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            return Ok(mine);
                        }
                        let name = format!("{}{}", common.user_prefix, offset + i);
                        mine.push((i, sign_in(&agent, &common.url, &name)?));
                    }
                })
            })
            .collect();
        for handle in handles {
            let part = handle
                .join()
                .map_err(|_| anyhow::anyhow!("a set-up thread panicked"))??;
            for (i, token) in part {
                out[i] = token;
            }
        }
        Ok(())
    })?;
    Ok(out)
}

pub fn sign_in(agent: &ureq::Agent, base: &str, name: &str) -> anyhow::Result<String> {
    let body = json!({"username": name, "password": PASSWORD});
    match agent
        .post(&format!("{base}/auth/api/register"))
        .send_json(body.clone())
    {
        Ok(_) | Err(ureq::Error::Status(409, _)) => {}
        Err(e) => anyhow::bail!("registering {name}: {e}"),
    }
    let reply: serde_json::Value = agent
        .post(&format!("{base}/auth/api/login"))
        .send_json(body)
        .with_context(|| format!("signing in {name}"))?
        .into_json()?;
    reply["access_token"]
        .as_str()
        .map(String::from)
        .context("no access_token in the login reply")
}
