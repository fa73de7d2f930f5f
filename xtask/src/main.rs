//! `cargo xtask bundle tailor-plugin --release`: bundles the plugin with nice-plug-xtask.

fn main() -> nice_plug_xtask::Result<()> {
    nice_plug_xtask::main()
}
