use num_bigint::BigUint;

/// Why A(m, n) cannot be given as a number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckermannError {
    /// The result has more digits than any computer could store (A(4, 3) already has
    /// about 10^19728 digits; A(3, n) for n near 2^64 needs 2^64 bits).
    #[error("A({m}, {n}) is too large to compute: {}", too_large(*m))]
    NotComputable { m: u64, n: u64 },
}

/// Why a value of row `m` is too large, in words.
fn too_large(m: u64) -> &'static str {
    match m {
        0..=3 => "its 2^64 or more bits fit in no computer's memory",
        _ => "it has more than 10^19000 decimal digits",
    }
}

/// The Ackermann–Péter function A(m, n), exactly.
///
/// Never recurses: rows m ≤ 3 have closed forms (A(3, n) = 2^(n+3) − 3), and the few
/// computable values of rows 4 and 5 follow from them. Everything else is an error, so any
/// argument is safe for the stack and for time.
pub fn ackermann(m: u64, n: u64) -> Result<BigUint, AckermannError> {
    let result = match (m, n) {
        (0, n) => BigUint::from(n) + 1u32,
        (1, n) => BigUint::from(n) + 2u32,
        (2, n) => BigUint::from(n) * 2u32 + 3u32,
        (3, n) if n <= ROW_3_MAX_N => power_of_two_minus_three(n + 3),
        // A(4, n) = 2↑↑(n+3) − 3
        (4, 0) => BigUint::from(13u32),
        (4, 1) | (5, 0) => BigUint::from(65_533u32),
        (4, 2) => power_of_two_minus_three(65_536),
        _ => return Err(AckermannError::NotComputable { m, n }),
    };
    Ok(result)
}

/// The largest n of row 3: A(3, n) = 2^(n+3) − 3, and the exponent must fit in 64 bits.
const ROW_3_MAX_N: u64 = u64::MAX - 3;

/// The largest n for which A(m, n) is computable: `u64::MAX` for rows m ≤ 2 (every n),
/// `u64::MAX − 3` for row 3 (the exponent n + 3 must fit), 2 for row 4 (A(4, 2) = 2^65536 − 3, while A(4, 3) has about 10^19728 digits), 0 for row
/// 5, and `None` for larger rows, which have no computable value.
pub fn max_computable_n(m: u64) -> Option<u64> {
    match m {
        0..=2 => Some(u64::MAX),
        3 => Some(ROW_3_MAX_N),
        4 => Some(2),
        5 => Some(0),
        _ => None,
    }
}

fn power_of_two_minus_three(exponent: u64) -> BigUint {
    (BigUint::from(1u32) << exponent) - 3u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn max_computable_n_is_the_edge_of_what_ackermann_computes() {
        for m in 4..=5 {
            let max = max_computable_n(m).unwrap();
            assert!(ackermann(m, max).is_ok(), "A({m}, {max})");
            assert!(ackermann(m, max + 1).is_err(), "A({m}, {})", max + 1);
        }
        assert_eq!(max_computable_n(3), Some(u64::MAX - 3));
        assert!(ackermann(3, 1000).is_ok());
        assert_eq!(max_computable_n(6), None);
        assert!(ackermann(6, 0).is_err());
    }

    /// The definition, evaluated with an explicit stack: an oracle for small arguments.
    fn by_definition(m: u64, n: u64) -> u64 {
        let mut stack = vec![m];
        let mut n = n;
        while let Some(m) = stack.pop() {
            if m == 0 {
                n += 1;
            } else if n == 0 {
                stack.push(m - 1);
                n = 1;
            } else {
                stack.push(m - 1);
                stack.push(m);
                n -= 1;
            }
        }
        n
    }

    fn a(m: u64, n: u64) -> BigUint {
        ackermann(m, n).unwrap()
    }

    #[test]
    fn published_table_for_m_up_to_3() {
        let table: [[u64; 5]; 4] = [
            [1, 2, 3, 4, 5],
            [2, 3, 4, 5, 6],
            [3, 5, 7, 9, 11],
            [5, 13, 29, 61, 125],
        ];
        for (m, row) in table.iter().enumerate() {
            for (n, want) in row.iter().enumerate() {
                assert_eq!(a(m as u64, n as u64), BigUint::from(*want), "A({m}, {n})");
            }
        }
    }

    #[test]
    fn agrees_with_the_definition_on_small_arguments() {
        for m in 0..=3 {
            for n in 0..=8 {
                assert_eq!(a(m, n), BigUint::from(by_definition(m, n)), "A({m}, {n})");
            }
        }
        assert_eq!(a(4, 0), BigUint::from(by_definition(4, 0)));
    }

    #[test]
    fn row_four() {
        assert_eq!(a(4, 0), BigUint::from(13u32));
        assert_eq!(a(4, 1), BigUint::from(65_533u32));
        let a42 = a(4, 2).to_string();
        assert_eq!(a42.len(), 19_729);
        assert!(
            a42.starts_with("2003529930406846464979072351560255750447825475569751419265016973")
        );
        assert!(a42.ends_with("156733"));
        // By the definition, A(4, 1) = A(3, A(4, 0)) = A(3, 13), and A(5, 0) = A(4, 1): checked
        // against row 3's closed form, not against the same table entry.
        assert_eq!(a(4, 0), BigUint::from(13u32));
        assert_eq!(a(4, 1), a(3, 13));
        assert_eq!(a(5, 0), a(3, 13));
    }

    #[test]
    fn row_three_near_the_top_of_u64_is_refused_not_overflowed() {
        // A(3, n) = 2^(n + 3) − 3: the exponent must fit for every n the row admits.
        let max = max_computable_n(3).unwrap();
        assert!(
            max.checked_add(3).is_some(),
            "A(3, {max}) = 2^({max} + 3) - 3: the exponent overflows u64"
        );
        for n in [u64::MAX - 2, u64::MAX - 1, u64::MAX] {
            assert_eq!(
                ackermann(3, n),
                Err(AckermannError::NotComputable { m: 3, n }),
                "A(3, {n})"
            );
        }
    }

    #[test]
    fn uncomputable_values_are_errors_not_hangs() {
        for (m, n) in [(4, 3), (4, u64::MAX), (5, 1), (6, 0), (u64::MAX, u64::MAX)] {
            assert_eq!(ackermann(m, n), Err(AckermannError::NotComputable { m, n }));
        }
    }

    proptest! {
        #[test]
        fn recurrence_holds(m in 1u64..=2, n in 1u64..2_000) {
            // A(m, n) = A(m - 1, A(m, n - 1))
            let inner: u64 = a(m, n - 1).try_into().unwrap();
            prop_assert_eq!(a(m, n), a(m - 1, inner));
        }

        #[test]
        fn recurrence_holds_in_row_three(n in 1u64..=60) {
            // A(3, n) = A(2, A(3, n - 1)); A(3, 59) = 2^62 − 3 still fits a u64.
            let inner: u64 = a(3, n - 1).try_into().unwrap();
            prop_assert_eq!(a(3, n), a(2, inner));
        }

        #[test]
        fn first_column(m in 1u64..=4) {
            // A(m, 0) = A(m - 1, 1)
            prop_assert_eq!(a(m, 0), a(m - 1, 1));
        }
    }
}
