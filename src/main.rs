use std::process::ExitCode;

fn main() -> ExitCode {
    switchyard::memory::tune();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the async runtime starts")
        .block_on(switchyard::cli::run())
}
