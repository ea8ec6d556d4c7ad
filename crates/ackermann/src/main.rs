//! The ackermann service: its API, its document at /ackermann/docs, and the front page.

fn main() -> std::process::ExitCode {
    mathapi_serve::function_service::<mathapi_ackermann::Ackermann>()
}
