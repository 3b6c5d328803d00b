//! A seeded random source and the distributions a scenario draws from. Written here
//! (xoshiro256** seeded by SplitMix64) rather than taken from a crate, so that a seed
//! gives the same simulated day on every platform and every version of the dependencies.

use std::time::Duration;

use serde::Deserialize;

/// xoshiro256**: fast, with a period far beyond any simulated year.
#[derive(Clone, Debug)]
pub struct Rng([u64; 4]);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng([next(), next(), next(), next()])
    }

    /// An independent stream for one purpose (arrivals, handle times, ...), so that
    /// drawing more of one does not shift the others between two runs of a comparison.
    pub fn stream(seed: u64, purpose: u64) -> Rng {
        Rng::new(seed ^ purpose.wrapping_mul(0xD1B5_4A32_D192_ED03))
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let out = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        out
    }

    /// Uniform in (0, 1]: never 0, so that its logarithm is finite.
    pub fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Exponential with the given mean (seconds).
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * self.unit().ln()
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Picks an index with probability proportional to `weights` (not all zero).
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut at = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if at <= *w {
                return i;
            }
            at -= w;
        }
        weights.len() - 1
    }
}

/// A distribution of times, as a scenario writes it: `{ exponential = "3m" }`,
/// `{ lognormal = { mean = "6m", sd = "3m" } }`, `{ fixed = "2m" }` or
/// `{ empirical = ["1m", "2m", "5m"] }` (each value equally likely).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RawDistribution {
    Exponential(String),
    Lognormal { mean: String, sd: String },
    Fixed(String),
    Empirical(Vec<String>),
}

/// A distribution of times in seconds, checked.
#[derive(Clone, Debug, PartialEq)]
pub enum Distribution {
    Exponential {
        mean: f64,
    },
    /// The normal distribution's parameters of the logarithm.
    Lognormal {
        mu: f64,
        sigma: f64,
    },
    Fixed(f64),
    Empirical(Vec<f64>),
}

impl Distribution {
    /// Checks a written distribution; the error says what is wrong with it.
    pub fn from_raw(raw: &RawDistribution) -> Result<Distribution, String> {
        let secs = |text: &str| -> Result<f64, String> {
            switchboard_config::duration::parse_duration(text)
                .map(|d| d.as_secs_f64())
                .map_err(|e| format!("{text:?}: {e}"))
        };
        let positive = |what: &str, v: f64| {
            if v > 0.0 {
                Ok(v)
            } else {
                Err(format!("{what} must be more than 0"))
            }
        };
        Ok(match raw {
            RawDistribution::Exponential(mean) => Distribution::Exponential {
                mean: positive("the mean", secs(mean)?)?,
            },
            RawDistribution::Lognormal { mean, sd } => {
                let (m, s) = (positive("the mean", secs(mean)?)?, secs(sd)?);
                // The log's parameters that give this mean and standard deviation.
                let sigma2 = (1.0 + (s / m).powi(2)).ln();
                Distribution::Lognormal {
                    mu: m.ln() - sigma2 / 2.0,
                    sigma: sigma2.sqrt(),
                }
            }
            RawDistribution::Fixed(v) => Distribution::Fixed(secs(v)?),
            RawDistribution::Empirical(values) => {
                if values.is_empty() {
                    return Err("an empirical distribution needs at least one value".into());
                }
                Distribution::Empirical(values.iter().map(|v| secs(v)).collect::<Result<_, _>>()?)
            }
        })
    }

    /// Exponential with the given mean.
    pub fn exponential(mean: Duration) -> Distribution {
        Distribution::Exponential {
            mean: mean.as_secs_f64(),
        }
    }

    /// The mean, in seconds.
    pub fn mean(&self) -> f64 {
        match self {
            Distribution::Exponential { mean } => *mean,
            Distribution::Lognormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
            Distribution::Fixed(v) => *v,
            Distribution::Empirical(values) => values.iter().sum::<f64>() / values.len() as f64,
        }
    }

    /// One draw, in seconds.
    pub fn sample(&self, rng: &mut Rng) -> f64 {
        match self {
            Distribution::Exponential { mean } => rng.exponential(*mean),
            Distribution::Lognormal { mu, sigma } => (mu + sigma * rng.normal()).exp(),
            Distribution::Fixed(v) => *v,
            Distribution::Empirical(values) => values[rng.below(values.len())],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_of(d: &Distribution, n: usize) -> f64 {
        let mut rng = Rng::new(42);
        (0..n).map(|_| d.sample(&mut rng)).sum::<f64>() / n as f64
    }

    #[test]
    fn a_seed_gives_the_same_draws_and_another_seed_others() {
        let draws = |seed| {
            let mut r = Rng::new(seed);
            (0..5).map(|_| r.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        assert_ne!(draws(7), draws(8));
    }

    #[test]
    fn each_distribution_has_the_mean_it_was_written_with() {
        // 200,000 draws: the standard error of an exponential's mean is 0.22% of it,
        // so 1% is over four standard errors.
        let n = 200_000;
        let written = |raw: RawDistribution| Distribution::from_raw(&raw).unwrap();
        for (d, want) in [
            (written(RawDistribution::Exponential("3m".into())), 180.0),
            (
                written(RawDistribution::Lognormal {
                    mean: "6m".into(),
                    sd: "3m".into(),
                }),
                360.0,
            ),
            (written(RawDistribution::Fixed("2m".into())), 120.0),
            (
                written(RawDistribution::Empirical(vec!["1m".into(), "3m".into()])),
                120.0,
            ),
        ] {
            assert!((d.mean() - want).abs() < 1e-6 * want, "{d:?}");
            let got = mean_of(&d, n);
            assert!((got - want).abs() < 0.01 * want, "{d:?}: {got}");
        }
    }

    #[test]
    fn bad_distributions_are_refused_saying_why() {
        let refused = |raw: RawDistribution| Distribution::from_raw(&raw).unwrap_err();
        assert_eq!(
            refused(RawDistribution::Exponential("0s".into())),
            "the mean must be more than 0"
        );
        assert!(refused(RawDistribution::Fixed("soon".into())).starts_with("\"soon\": "));
        assert_eq!(
            refused(RawDistribution::Empirical(vec![])),
            "an empirical distribution needs at least one value"
        );
    }
}
