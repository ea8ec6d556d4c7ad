//! The factorial service: its API, its document at /factorial/docs, and the front page.

fn main() -> std::process::ExitCode {
    mathapi_serve::function_service::<mathapi_factorial::Factorial>()
}
