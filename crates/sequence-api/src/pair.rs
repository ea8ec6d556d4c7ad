//! [`Pair`]: the current Fibonacci pair (F(i), F(i + 1)) in decimal, kept beside the store.
//!
//! The store holds only the index; each answer needs F(index) as a decimal string. Computing
//! it afresh (fast doubling, then a binary-to-decimal conversion, quadratic in the length)
//! costs tens of microseconds at the default maximum and about a millisecond at the hard
//! one, per answer. The walk moves one step at a time, so the process keeps the pair it last
//! answered and moves it: a step is one addition (forward) or subtraction (back), in place.
//! The pair is held in base 10^18 limbs, so the addition is as cheap as a binary one and
//! rendering is writing each limb's digits, linear in the length, and done once per index:
//! the answer's whole JSON document ([`Position`]) is kept until the pair moves. Only a jump
//! (the first answer, another replica's many steps, a reset from far away) computes afresh.

use mathapi_math::fibonacci_pair;

use crate::position::Position;

/// One limb holds 18 decimal digits: the sum of two limbs stays below 2^64.
const LIMB: u64 = 1_000_000_000_000_000_000;
const LIMB_DIGITS: usize = 18;
/// Half a limb: 9 digits, which fit a `u32`.
const HALF_LIMB: u64 = 1_000_000_000;

/// How many steps a pair walks by additions before a jump recomputes it instead.
pub(crate) const WALK_MAX: u64 = 256;

/// F(index) and F(index + 1), in base 10^18, least significant limb first, and the answer of
/// F(index) rendered once asked for.
#[derive(Debug, Clone)]
pub(crate) struct Pair {
    index: u64,
    a: Vec<u64>,
    b: Vec<u64>,
    rendered: Option<Position>,
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

    /// The answer of F(`index`): the pair walks there when it is within [`WALK_MAX`] steps,
    /// else it is computed afresh.
    pub(crate) fn position_at(&mut self, index: u64) -> Position {
        if self.index.abs_diff(index) > WALK_MAX {
            *self = Pair::at(index);
        }
        while self.index < index {
            self.forward();
        }
        while self.index > index {
            self.back();
        }
        let (index, a) = (self.index, &self.a);
        self.rendered
            .get_or_insert_with(|| {
                Position::render(index, a.len() * LIMB_DIGITS, |out| render(a, out))
            })
            .clone()
    }

    /// F(i + 2) = F(i) + F(i + 1), written over F(i), which the pair no longer needs.
    fn forward(&mut self) {
        add_assign(&mut self.a, &self.b);
        std::mem::swap(&mut self.a, &mut self.b);
        self.index += 1;
        self.rendered = None;
    }

    /// F(i − 1) = F(i + 1) − F(i), written over F(i + 1).
    fn back(&mut self) {
        subtract_assign(&mut self.b, &self.a);
        std::mem::swap(&mut self.a, &mut self.b);
        self.index -= 1;
        self.rendered = None;
    }
}

/// `x += y`.
fn add_assign(x: &mut Vec<u64>, y: &[u64]) {
    if x.len() < y.len() {
        x.resize(y.len(), 0);
    }
    let mut carry = 0;
    for (i, limb) in x.iter_mut().enumerate() {
        let total = *limb + y.get(i).copied().unwrap_or(0) + carry;
        carry = u64::from(total >= LIMB);
        *limb = total - carry * LIMB;
    }
    if carry == 1 {
        x.push(1);
    }
}

/// `x −= y`, for `x ≥ y`.
fn subtract_assign(x: &mut Vec<u64>, y: &[u64]) {
    let mut borrow = 0;
    for (i, limb) in x.iter_mut().enumerate() {
        let taken = y.get(i).copied().unwrap_or(0) + borrow;
        borrow = u64::from(*limb < taken);
        *limb = *limb + borrow * LIMB - taken;
    }
    while x.len() > 1 && x.last() == Some(&0) {
        x.pop();
    }
}

/// The limbs of a decimal string.
fn limbs(decimal: &str) -> Vec<u64> {
    decimal
        .as_bytes()
        .rchunks(LIMB_DIGITS)
        .map(|chunk| chunk.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')))
        .collect()
}

/// Appends the decimal digits of `limbs` to `out`: the top limb as it is, every other one
/// zero-padded to 18 digits. Written by hand because `format!("{limb:018}")` goes through
/// the formatting machinery, several times slower per limb, and this runs on every step.
fn render(limbs: &[u64], out: &mut Vec<u8>) {
    let Some((&top, rest)) = limbs.split_last() else {
        return;
    };
    out.extend_from_slice(itoa::Buffer::new().format(top).as_bytes());
    let start = out.len();
    out.resize(start + rest.len() * LIMB_DIGITS, 0);
    for (digits, &limb) in out[start..]
        .chunks_exact_mut(LIMB_DIGITS)
        .zip(rest.iter().rev())
    {
        let (high, low) = digits.split_at_mut(LIMB_DIGITS / 2);
        nine_digits(limb / HALF_LIMB, high);
        nine_digits(limb % HALF_LIMB, low);
    }
}

/// `n` (below 10^9) as exactly nine digits, zero-padded, into `out`: two digits at a time,
/// from a table of the pairs.
fn nine_digits(n: u64, out: &mut [u8]) {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    // A `u32` division is cheaper than a `u64` one; 10^9 − 1 fits.
    let mut n = n as u32;
    for at in [7, 5, 3, 1] {
        let pair = (n % 100) as usize * 2;
        out[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
        n /= 100;
    }
    out[0] = b'0' + n as u8;
}

#[cfg(test)]
mod tests {
    use mathapi_math::fibonacci;

    use super::*;

    fn assert_answers(pair: &mut Pair, index: u64) {
        let position = pair.position_at(index);
        let value = fibonacci(index).to_string();
        assert_eq!(position.value(), value, "F({index})");
        assert_eq!(
            position.json(),
            format!("{{\"index\":{index},\"value\":\"{value}\"}}"),
            "F({index})"
        );
    }

    #[test]
    fn a_walk_forward_and_back_matches_fast_doubling() {
        let mut pair = Pair::default();
        for index in (0..=2_000).chain((0..=2_000).rev()) {
            assert_answers(&mut pair, index);
        }
    }

    #[test]
    fn jumps_and_steps_around_them_match_fast_doubling() {
        let mut pair = Pair::default();
        for index in [
            10_000, 10_001, 9_999, 100_000, 99_744, 3, 0, 257, 1, 514, 258,
        ] {
            assert_answers(&mut pair, index);
        }
    }

    #[test]
    fn a_repeated_index_shares_its_rendered_answer() {
        let mut pair = Pair::default();
        let first = pair.position_at(90);
        assert_eq!(pair.position_at(90).json().as_ptr(), first.json().as_ptr());
    }

    fn decimal(limbs: &[u64]) -> String {
        let mut out = Vec::new();
        render(limbs, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn nine_digits_match_the_formatter() {
        let edges = [
            0,
            1,
            9,
            10,
            99,
            100,
            9_999,
            10_000,
            100_000_001,
            999_999_999,
        ];
        let spread = (0..1_000_000_000).step_by(99_991);
        for n in edges.into_iter().chain(spread) {
            let mut digits = [0u8; 9];
            nine_digits(n, &mut digits);
            assert_eq!(digits, format!("{n:09}").as_bytes(), "{n}");
        }
    }

    #[test]
    fn limbs_carry_and_borrow_at_their_edges() {
        let big = limbs("999999999999999999999999999999999999");
        let one = limbs("1");
        let mut sum = big.clone();
        add_assign(&mut sum, &one);
        assert_eq!(decimal(&sum), "1000000000000000000000000000000000000");
        let mut shorter = one.clone();
        add_assign(&mut shorter, &big);
        assert_eq!(shorter, sum);
        let mut difference = sum.clone();
        subtract_assign(&mut difference, &one);
        assert_eq!(decimal(&difference), "999999999999999999999999999999999999");
        let mut zero = sum.clone();
        subtract_assign(&mut zero, &sum);
        assert_eq!(decimal(&zero), "0");
        for text in [
            "1000000000000000000",
            "1000000000000000005",
            "12000000000000000000000000000000000000",
            "7090000000000012345000000000987654321",
        ] {
            assert_eq!(decimal(&limbs(text)), text);
        }
    }
}
