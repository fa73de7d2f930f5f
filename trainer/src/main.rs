//! The `tailor` command-line tool.

fn main() {
    tailor_trainer::quiet_broken_pipe();
    tailor_trainer::pin_thread_count();
    tailor_trainer::tune_allocator();
    std::process::exit(tailor_trainer::cli::main());
}
