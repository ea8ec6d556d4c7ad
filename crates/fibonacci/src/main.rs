//! The fibonacci service: its API, its document at /fibonacci/docs, and the front page.

fn main() -> std::process::ExitCode {
    mathapi_serve::function_service::<mathapi_fibonacci::Fibonacci>()
}
