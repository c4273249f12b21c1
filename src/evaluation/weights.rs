//! Variant weight normalisation, Unleash's way (spec 2.2). SDKs ignore
//! `weightType` and walk the concrete weights in list order, so the server has
//! to turn `variable` weights into numbers before it serves them.

use thiserror::Error;
use unleash_types::client_features::WeightType;

/// The sum every normalised variant list adds up to.
pub const TOTAL_WEIGHT: i32 = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WeightError {
    #[error("fixed weights add up to {0}, more than {TOTAL_WEIGHT}")]
    FixedOverflow(i64),
    #[error("at least one variant must have a variable weight")]
    NoVariable,
    #[error("a fixed weight must be between 0 and {TOTAL_WEIGHT}, got {0}")]
    OutOfRange(i32),
}

/// Concrete weights for `variants` (`(weightType, weight)` in list order):
/// fixed weights are kept, the rest of [`TOTAL_WEIGHT`] is shared evenly among
/// the variable ones, and the remainder goes one by one to the first variable
/// variants. An empty list stays empty.
pub fn normalize_weights(variants: &[(WeightType, i32)]) -> Result<Vec<i32>, WeightError> {
    if variants.is_empty() {
        return Ok(Vec::new());
    }
    let fixed_sum = fixed_sum(variants)?;
    let variable_count = variants
        .iter()
        .filter(|(kind, _)| *kind == WeightType::Variable)
        .count();
    if variable_count == 0 {
        return Err(WeightError::NoVariable);
    }
    // fixed_sum <= 1000 and variable_count <= len, so these fit in i32.
    let left = TOTAL_WEIGHT - fixed_sum as i32;
    let count = variable_count as i32;
    let (share, mut remainder) = (left / count, left % count);
    let weights = variants
        .iter()
        .map(|(kind, weight)| match kind {
            WeightType::Fix => *weight,
            WeightType::Variable if remainder > 0 => {
                remainder -= 1;
                share + 1
            }
            WeightType::Variable => share,
        })
        .collect();
    Ok(weights)
}

fn fixed_sum(variants: &[(WeightType, i32)]) -> Result<i64, WeightError> {
    let mut sum: i64 = 0;
    for (kind, weight) in variants {
        if *kind != WeightType::Fix {
            continue;
        }
        if !(0..=TOTAL_WEIGHT).contains(weight) {
            return Err(WeightError::OutOfRange(*weight));
        }
        sum += i64::from(*weight);
    }
    if sum > i64::from(TOTAL_WEIGHT) {
        return Err(WeightError::FixedOverflow(sum));
    }
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use WeightType::{Fix, Variable};

    type Case = (&'static [(WeightType, i32)], Result<Vec<i32>, WeightError>);

    #[test]
    fn weights_follow_unleash_rules() {
        let cases: &[Case] = &[
            (&[], Ok(vec![])),
            (&[(Variable, 0)], Ok(vec![1000])),
            (&[(Variable, 0), (Variable, 0)], Ok(vec![500, 500])),
            (
                &[(Variable, 0), (Variable, 0), (Variable, 0)],
                Ok(vec![334, 333, 333]),
            ),
            (&[(Fix, 100), (Variable, 7)], Ok(vec![100, 900])),
            (
                &[(Variable, 0), (Fix, 1), (Variable, 0)],
                Ok(vec![500, 1, 499]),
            ),
            (&[(Fix, 1000), (Variable, 0)], Ok(vec![1000, 0])),
            (
                &[(Fix, 600), (Fix, 401), (Variable, 0)],
                Err(WeightError::FixedOverflow(1001)),
            ),
            (&[(Fix, 1000)], Err(WeightError::NoVariable)),
            (
                &[(Fix, -1), (Variable, 0)],
                Err(WeightError::OutOfRange(-1)),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(&normalize_weights(input), expected, "{input:?}");
        }
    }
}
