//! The Ackermann service: GET /ackermann/{m}/{n}/, docs at /ackermann/docs.

use std::process::ExitCode;

use mathapi_ackermann::{AckermannApi, AckermannArgs};

fn main() -> ExitCode {
    mathapi_server::run_service(|args: &AckermannArgs, metrics| {
        Ok(AckermannApi::new(args, metrics))
    })
}
