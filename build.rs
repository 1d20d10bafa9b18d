//! Rebuilds the crate when a migration is added or changed: the migrations are embedded
//! at compile time (`embed_migrations!`), and cargo does not otherwise watch that folder.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
