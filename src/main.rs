use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    switchyard::cli::run().await
}
