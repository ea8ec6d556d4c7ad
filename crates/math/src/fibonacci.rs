use num_bigint::BigUint;
use num_traits::{One, Zero};

/// The `n`-th Fibonacci number, with F(0) = 0 and F(1) = 1.
///
/// Fast doubling: O(log n) big-integer multiplications instead of n additions.
pub fn fibonacci(n: u64) -> BigUint {
    fibonacci_pair(n).0
}

/// The pair (F(n), F(n + 1)), for callers that step through the sequence.
pub fn fibonacci_pair(n: u64) -> (BigUint, BigUint) {
    let mut a = BigUint::zero(); // F(k)
    let mut b = BigUint::one(); // F(k + 1)
    for bit in (0..u64::BITS - n.leading_zeros()).rev() {
        // F(2k) = F(k) * (2 F(k+1) - F(k)),  F(2k+1) = F(k)^2 + F(k+1)^2
        let two_b_minus_a = (&b << 1u32) - &a;
        let f2k = &a * &two_b_minus_a;
        let f2k1 = &a * &a + &b * &b;
        (a, b) = if (n >> bit) & 1 == 1 {
            let f2k2 = &f2k + &f2k1;
            (f2k1, f2k2)
        } else {
            (f2k, f2k1)
        };
    }
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn big(s: &str) -> BigUint {
        s.parse().unwrap()
    }

    #[test]
    fn first_values_match_the_published_sequence() {
        // OEIS A000045.
        let expected = [
            0u32, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987,
        ];
        for (n, want) in expected.iter().enumerate() {
            assert_eq!(fibonacci(n as u64), BigUint::from(*want), "F({n})");
        }
    }

    #[test]
    fn known_large_values() {
        assert_eq!(fibonacci(93), big("12200160415121876738")); // largest that fits in u64
        assert_eq!(fibonacci(100), big("354224848179261915075"));
        assert_eq!(
            fibonacci(300),
            big("222232244629420445529739893461909967206666939096499764990979600")
        );
    }

    #[test]
    fn f_400_the_default_limit() {
        assert_eq!(
            fibonacci(400),
            big(
                "176023680645013966468226945392411250770384383304492191886725992896575345044216019675"
            )
        );
    }

    #[test]
    fn agrees_with_plain_iteration_up_to_2000() {
        let (mut a, mut b) = (BigUint::zero(), BigUint::one());
        for n in 0..=2000u64 {
            assert_eq!(fibonacci(n), a, "F({n})");
            (a, b) = (b.clone(), a + b);
        }
    }

    proptest! {
        #[test]
        fn recurrence_holds(n in 0u64..20_000) {
            prop_assert_eq!(fibonacci(n + 2), fibonacci(n + 1) + fibonacci(n));
        }

        #[test]
        fn pair_is_consecutive(n in 0u64..20_000) {
            let (a, b) = fibonacci_pair(n);
            prop_assert_eq!(a, fibonacci(n));
            prop_assert_eq!(b, fibonacci(n + 1));
        }

        #[test]
        fn cassini_identity(n in 1u64..5_000) {
            // F(n-1) F(n+1) - F(n)^2 = (-1)^n
            let lhs = fibonacci(n - 1) * fibonacci(n + 1);
            let sq = fibonacci(n).pow(2);
            if n % 2 == 0 {
                prop_assert_eq!(lhs, sq + 1u32);
            } else {
                prop_assert_eq!(lhs + 1u32, sq);
            }
        }
    }
}
