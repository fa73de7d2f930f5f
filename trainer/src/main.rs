//! The `tailor` command-line tool.

fn main() {
    std::process::exit(tailor_trainer::cli::main());
}
