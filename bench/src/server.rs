//! The server's own CPU time and memory, from /proc.

pub struct Sample {
    pub cpu_seconds: f64,
    pub rss_kib: u64,
}

/// The sum over all the server's processes (two nodes: both).
pub fn sample(pids: &[u32]) -> Option<Sample> {
    let mut total = Sample {
        cpu_seconds: 0.0,
        rss_kib: 0,
    };
    for pid in pids {
        let one = sample_one(*pid)?;
        total.cpu_seconds += one.cpu_seconds;
        total.rss_kib += one.rss_kib;
    }
    (!pids.is_empty()).then_some(total)
}

fn sample_one(pid: u32) -> Option<Sample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(Sample {
        cpu_seconds: ticks / 100.0,
        rss_kib,
    })
}
