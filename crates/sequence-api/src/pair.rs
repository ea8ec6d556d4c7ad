//! [`Pair`]: the current Fibonacci pair (F(i), F(i + 1)) in decimal, kept beside the store.
//!
//! The store holds only the index; each answer needs F(index) as a decimal string. Computing
//! it afresh (fast doubling, then a binary-to-decimal conversion, quadratic in the length)
//! costs tens of microseconds at the default maximum and about a millisecond at the hard
//! one, per answer. The walk moves one step at a time, so the process keeps the pair it last
//! answered and moves it: a step is one addition (forward) or subtraction (back). The pair
//! is held in base 10^18 limbs, so the addition is as cheap as a binary one and rendering
//! is formatting each limb, linear in the length, and done once per index (the string is
//! kept until the pair moves). Only a jump (the first answer, another replica's many steps, a
//! reset from far away) computes afresh.

use mathapi_math::fibonacci_pair;

/// One limb holds 18 decimal digits: the sum of two limbs stays below 2^64.
const LIMB: u64 = 1_000_000_000_000_000_000;
const LIMB_DIGITS: usize = 18;

/// How many steps a pair walks by additions before a jump recomputes it instead.
pub(crate) const WALK_MAX: u64 = 256;

/// F(index) and F(index + 1), in base 10^18, least significant limb first, and F(index)
/// rendered once asked for.
#[derive(Debug, Clone)]
pub(crate) struct Pair {
    index: u64,
    a: Vec<u64>,
    b: Vec<u64>,
    rendered: Option<String>,
}

impl Default for Pair {
    /// F(0) = 0, F(1) = 1.
    fn default() -> Self {
        Pair {
            index: 0,
            a: vec![0],
            b: vec![1],
            rendered: None,
        }
    }
}

impl Pair {
    /// The pair at `index`, computed afresh (fast doubling, then decimal conversion).
    pub(crate) fn at(index: u64) -> Self {
        let (a, b) = fibonacci_pair(index);
        Pair {
            index,
            a: limbs(&a.to_string()),
            b: limbs(&b.to_string()),
            rendered: None,
        }
    }

    /// F(`index`) in decimal: the pair walks there when it is within [`WALK_MAX`] steps,
    /// else it is computed afresh.
    pub(crate) fn value_at(&mut self, index: u64) -> String {
        if self.index.abs_diff(index) > WALK_MAX {
            *self = Pair::at(index);
        }
        while self.index < index {
            self.forward();
        }
        while self.index > index {
            self.back();
        }
        self.rendered.get_or_insert_with(|| render(&self.a)).clone()
    }

    fn forward(&mut self) {
        let next = add(&self.a, &self.b);
        self.a = std::mem::replace(&mut self.b, next);
        self.index += 1;
        self.rendered = None;
    }

    /// F(i − 1) = F(i + 1) − F(i).
    fn back(&mut self) {
        let previous = subtract(&self.b, &self.a);
        self.b = std::mem::replace(&mut self.a, previous);
        self.index -= 1;
        self.rendered = None;
    }
}

/// `x + y`.
fn add(x: &[u64], y: &[u64]) -> Vec<u64> {
    let (long, short) = if x.len() >= y.len() { (x, y) } else { (y, x) };
    let mut sum = Vec::with_capacity(long.len() + 1);
    let mut carry = 0;
    for (i, &limb) in long.iter().enumerate() {
        let total = limb + short.get(i).copied().unwrap_or(0) + carry;
        carry = u64::from(total >= LIMB);
        sum.push(total - carry * LIMB);
    }
    if carry == 1 {
        sum.push(1);
    }
    sum
}

/// `x − y`, for `x ≥ y`.
fn subtract(x: &[u64], y: &[u64]) -> Vec<u64> {
    let mut difference = Vec::with_capacity(x.len());
    let mut borrow = 0;
    for (i, &limb) in x.iter().enumerate() {
        let taken = y.get(i).copied().unwrap_or(0) + borrow;
        borrow = u64::from(limb < taken);
        difference.push(limb + borrow * LIMB - taken);
    }
    while difference.len() > 1 && difference.last() == Some(&0) {
        difference.pop();
    }
    difference
}

/// The limbs of a decimal string.
fn limbs(decimal: &str) -> Vec<u64> {
    decimal
        .as_bytes()
        .rchunks(LIMB_DIGITS)
        .map(|chunk| chunk.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')))
        .collect()
}

/// The decimal string of `limbs`.
fn render(limbs: &[u64]) -> String {
    use std::fmt::Write;
    let mut text = String::with_capacity(limbs.len() * LIMB_DIGITS);
    let mut limbs = limbs.iter().rev();
    if let Some(top) = limbs.next() {
        let _ = write!(text, "{top}");
    }
    for limb in limbs {
        let _ = write!(text, "{limb:018}");
    }
    text
}

#[cfg(test)]
mod tests {
    use mathapi_math::fibonacci;

    use super::*;

    #[test]
    fn a_walk_forward_and_back_matches_fast_doubling() {
        let mut pair = Pair::default();
        for index in (0..=2_000).chain((0..=2_000).rev()) {
            assert_eq!(
                pair.value_at(index),
                fibonacci(index).to_string(),
                "F({index})"
            );
        }
    }

    #[test]
    fn jumps_and_steps_around_them_match_fast_doubling() {
        let mut pair = Pair::default();
        for index in [
            10_000, 10_001, 9_999, 100_000, 99_744, 3, 0, 257, 1, 514, 258,
        ] {
            assert_eq!(
                pair.value_at(index),
                fibonacci(index).to_string(),
                "F({index})"
            );
        }
    }

    #[test]
    fn limbs_carry_and_borrow_at_their_edges() {
        let big = limbs("999999999999999999999999999999999999");
        let one = limbs("1");
        let sum = add(&big, &one);
        assert_eq!(render(&sum), "1000000000000000000000000000000000000");
        assert_eq!(
            render(&subtract(&sum, &one)),
            "999999999999999999999999999999999999"
        );
        assert_eq!(render(&subtract(&sum, &sum)), "0");
        assert_eq!(render(&limbs("1000000000000000000")), "1000000000000000000");
    }
}
