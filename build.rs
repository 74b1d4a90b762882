//! Rebuilds when embedded files change: rust-embed and the catalog loader read whole folders at compile time, and a
//! file added to them would otherwise be missed until some Rust file changed.

fn main() {
    for dir in ["assets", "migrations", "src/i18n", "templates"] {
        println!("cargo:rerun-if-changed={dir}");
    }
}
