//! `chatapp keygen DIR`: a fresh Ed25519 key pair for signing tokens.

use crate::cli::KeygenOpts;
use crate::tokens::KeyPair;

pub fn run(opts: &KeygenOpts) -> anyhow::Result<()> {
    let pair = KeyPair::generate()?;
    let (private, public) = pair.write_to(&opts.dir, opts.force)?;
    println!(
        "wrote private key {} (keep it on the auth host only)",
        private.display()
    );
    println!("wrote public key  {}", public.display());
    println!("key id {}", pair.key_id());
    Ok(())
}
