//! Runs a property the way `cargo test` can afford: on every input of its seed corpus
//! (`fuzz/corpus/<target>`), then on seeded random inputs, most of them mutations of the
//! corpus. The seed is printed; `CHATAPP_FUZZ_SEED=<seed>` repeats a run.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::PathBuf;

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

/// The seed corpus of a fuzz target, in name order.
pub fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .filter_map(|path| std::fs::read(path).ok())
        .collect()
}

/// Checks `property` on `target`'s corpus and on `cases` seeded inputs.
pub fn check(target: &str, cases: usize, property: fn(&[u8])) {
    let seed = std::env::var("CHATAPP_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().next_u64());
    eprintln!("{target}: seed {seed} (CHATAPP_FUZZ_SEED={seed} repeats this run)");
    let seeds = corpus(target);
    assert!(!seeds.is_empty(), "no seed corpus in fuzz/corpus/{target}");
    for input in &seeds {
        run_one(target, property, input);
    }
    let mut rng = StdRng::seed_from_u64(seed);
    for _ in 0..cases {
        let input = if rng.gen_bool(0.75) {
            let base = &seeds[rng.gen_range(0..seeds.len())];
            let other = &seeds[rng.gen_range(0..seeds.len())];
            mutate(&mut rng, base, other)
        } else {
            let len = rng.gen_range(0..600);
            let mut bytes = vec![0; len];
            rng.fill_bytes(&mut bytes);
            bytes
        };
        run_one(target, property, &input);
    }
}

fn run_one(target: &str, property: fn(&[u8]), input: &[u8]) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| property(input))) {
        eprintln!(
            "{target}: the property failed on {} bytes: {input:?}",
            input.len()
        );
        resume_unwind(panic);
    }
}

/// A few of libFuzzer's simpler mutations.
fn mutate(rng: &mut StdRng, base: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = base.to_vec();
    for _ in 0..rng.gen_range(1..=4) {
        let at = rng.gen_range(0..=out.len());
        match rng.gen_range(0..6) {
            0 if at < out.len() => out[at] ^= 1 << rng.gen_range(0..8),
            1 if at < out.len() => {
                out[at] = [0, 0x7f, 0x80, 0xff, b'\n', b'"'][rng.gen_range(0..6)]
            }
            2 => {
                let mut bytes = vec![0; rng.gen_range(1..9)];
                rng.fill_bytes(&mut bytes);
                out.splice(at..at, bytes);
            }
            3 => {
                let end = rng.gen_range(at..=out.len().min(at + 16));
                out.drain(at..end);
            }
            4 if !other.is_empty() => {
                let from = rng.gen_range(0..other.len());
                let end = rng.gen_range(from..=other.len());
                out.splice(at..at, other[from..end].iter().copied());
            }
            _ => out.truncate(at),
        }
    }
    out
}
