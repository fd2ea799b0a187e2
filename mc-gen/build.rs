//! The templates are embedded with `include_dir!`, which cargo does not know to watch: a change
//! under `templates/` must rebuild the crate, or an installed mc-gen would carry stale templates.

fn main() {
    println!("cargo:rerun-if-changed=templates");
}
