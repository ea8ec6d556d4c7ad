//! hyper answers a request its HTTP/1.1 parser refuses (`400` malformed, `414` target too
//! long, `431` head too large) on its own, with an empty body and nothing else, and closes
//! the connection; no route sees the request. [`AnswerParseErrors`] sits between hyper and
//! the socket and replaces that bare answer with a problem document that carries a request
//! id, logged and counted like every answer (`mathapi_http::refuse_unparsed`).
//!
//! hyper writes its automatic answer only when no other answer is in progress, as the last
//! bytes of the connection: a status line, `connection: close`, `content-length: 0` and
//! `date`, nothing more. Every answer of ours carries `x-request-id`, so a write that ends
//! with exactly that head is hyper's.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use mathapi_http::{HeadLimits, PROBLEM_JSON, refuse_unparsed};
use mathapi_telemetry::Metrics;
use poem::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The longest automatic answer of hyper's: its longest status line and three headers.
const AUTOMATIC_ANSWER_MAX: usize = 160;

/// A connection's socket, with hyper's bare answers to unparsable requests replaced.
pub(crate) struct AnswerParseErrors<S> {
    inner: S,
    limits: HeadLimits,
    metrics: Option<Metrics>,
    /// Our answer, still to be written before anything else.
    pending: Vec<u8>,
}

impl<S> AnswerParseErrors<S> {
    pub(crate) fn new(inner: S, limits: HeadLimits, metrics: Option<Metrics>) -> Self {
        AnswerParseErrors {
            inner,
            limits,
            metrics,
            pending: Vec::new(),
        }
    }
}

impl<S: AsyncWrite + Unpin> AnswerParseErrors<S> {
    /// Writes out our pending answer, if any.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let written = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending.drain(..written);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for AnswerParseErrors<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for AnswerParseErrors<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        let Some((start, status, date)) = automatic_answer(buf) else {
            return Pin::new(&mut self.inner).poll_write(cx, buf);
        };
        if start > 0 {
            // What comes before it is written first; hyper offers the rest again.
            return Pin::new(&mut self.inner).poll_write(cx, &buf[..start]);
        }
        let refused = refuse_unparsed(status, self.limits, self.metrics.as_ref());
        self.pending = render(status, &refused, date);
        // hyper's bytes are taken in full; ours go out before anything else.
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    // Not vectored: hyper then hands each write over as one buffer, so its automatic
    // answer is always the end of one `poll_write`.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

/// Where hyper's automatic answer starts in `buf`, its status and its `date`, when `buf`
/// ends with one.
fn automatic_answer(buf: &[u8]) -> Option<(usize, StatusCode, &str)> {
    if !buf.ends_with(b"\r\n\r\n") {
        return None;
    }
    let tail_start = buf.len().saturating_sub(AUTOMATIC_ANSWER_MAX);
    let tail = &buf[tail_start..];
    let offset = tail.windows(9).rposition(|w| w == b"HTTP/1.1 ")?;
    let head = &buf[tail_start + offset..];
    let mut headers = [httparse::EMPTY_HEADER; 4];
    let mut response = httparse::Response::new(&mut headers);
    let Ok(httparse::Status::Complete(len)) = response.parse(head) else {
        return None;
    };
    let status = StatusCode::from_u16(response.code?).ok()?;
    let automatic = [
        StatusCode::BAD_REQUEST,
        StatusCode::URI_TOO_LONG,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
    ];
    if len != head.len() || !automatic.contains(&status) {
        return None;
    }
    let mut date = None;
    for header in response.headers.iter() {
        match (header.name, header.value) {
            ("connection", b"close") | ("content-length", b"0") => {}
            ("date", value) => date = std::str::from_utf8(value).ok(),
            _ => return None,
        }
    }
    Some((tail_start + offset, status, date?))
}

/// Our answer to a refused request, as HTTP/1.1 bytes: the connection closes after it.
fn render(status: StatusCode, refused: &mathapi_http::Unparsed, date: &str) -> Vec<u8> {
    let body = &refused.body;
    format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {PROBLEM_JSON}\r\nx-request-id: {}\r\n\
         connection: close\r\ncontent-length: {}\r\ndate: {date}\r\n\r\n{body}",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default(),
        refused.request_id,
        body.len(),
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &str = "Fri, 04 Dec 2026 21:43:52 GMT";

    fn hyper_answer(status: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\nconnection: close\r\ncontent-length: 0\r\ndate: {DATE}\r\n\r\n"
        )
    }

    #[test]
    fn hyper_automatic_answers_are_recognised_at_the_end_of_a_write() {
        let answer = hyper_answer("431 Request Header Fields Too Large");
        assert_eq!(
            automatic_answer(answer.as_bytes()),
            Some((0, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, DATE))
        );
        let after_a_body = format!("{{\"n\":1}}{}", hyper_answer("400 Bad Request"));
        assert_eq!(
            automatic_answer(after_a_body.as_bytes()),
            Some((7, StatusCode::BAD_REQUEST, DATE))
        );
    }

    #[test]
    fn our_own_answers_are_never_taken_for_hyper_s() {
        let ours = format!(
            "HTTP/1.1 400 Bad Request\r\nx-request-id: a\r\ncontent-length: 0\r\ndate: {DATE}\r\n\r\n"
        );
        assert_eq!(automatic_answer(ours.as_bytes()), None);
        let not_modified = format!(
            "HTTP/1.1 304 Not Modified\r\nconnection: close\r\ncontent-length: 0\r\ndate: {DATE}\r\n\r\n"
        );
        assert_eq!(automatic_answer(not_modified.as_bytes()), None);
        assert_eq!(automatic_answer(b"{\"n\":1}"), None);
    }
}
