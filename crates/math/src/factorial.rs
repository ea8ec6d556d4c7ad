use num_bigint::BigUint;
use num_traits::One;

/// `n!`, exactly.
///
/// Multiplies by binary splitting, so the big multiplications happen between operands of
/// similar size, where num-bigint's Karatsuba/Toom-3 pay off.
pub fn factorial(n: u64) -> BigUint {
    if n < 2 {
        return BigUint::one();
    }
    product(2, n)
}

/// The product `lo * (lo + 1) * ... * hi` for `lo <= hi`.
fn product(lo: u64, hi: u64) -> BigUint {
    // Small ranges: multiply machine words while they cannot overflow.
    if hi - lo < 8 {
        let mut acc = BigUint::one();
        let mut word: u64 = 1;
        for k in lo..=hi {
            match word.checked_mul(k) {
                Some(w) => word = w,
                None => {
                    acc *= word;
                    word = k;
                }
            }
        }
        return acc * word;
    }
    let mid = lo + (hi - lo) / 2;
    product(lo, mid) * product(mid + 1, hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn first_values() {
        let expected = [1u64, 1, 2, 6, 24, 120, 720, 5040, 40320, 362880, 3628800];
        for (n, want) in expected.iter().enumerate() {
            assert_eq!(factorial(n as u64), BigUint::from(*want), "{n}!");
        }
    }

    #[test]
    fn known_large_values() {
        assert_eq!(factorial(20), BigUint::from(2_432_902_008_176_640_000u64));
        assert_eq!(
            factorial(50).to_string(),
            "30414093201713378043612608166064768844377641568960512000000000000"
        );
        // 400! has 869 digits and 99 trailing zeros (Legendre: 80 + 16 + 3).
        let s = factorial(400).to_string();
        assert_eq!(s.len(), 869);
        assert_eq!(s.len() - s.trim_end_matches('0').len(), 99);
        assert!(s.starts_with("64034522846623895262"), "{s}");
    }

    #[test]
    fn agrees_with_plain_iteration_up_to_1000() {
        let mut acc = BigUint::one();
        for n in 0..=1000u64 {
            if n > 0 {
                acc *= n;
            }
            assert_eq!(factorial(n), acc, "{n}!");
        }
    }

    proptest! {
        #[test]
        fn recurrence_holds(n in 1u64..3_000) {
            prop_assert_eq!(factorial(n), factorial(n - 1) * n);
        }

        #[test]
        fn trailing_zeros_follow_legendre(n in 0u64..3_000) {
            let s = factorial(n).to_string();
            let zeros = (s.len() - s.trim_end_matches('0').len()) as u64;
            let mut legendre = 0;
            let mut p = 5;
            while p <= n {
                legendre += n / p;
                p *= 5;
            }
            prop_assert_eq!(zeros, legendre);
        }
    }
}
