//! Deterministic randomness for the load generator: a SplitMix64 generator per connection, key
//! choice from a uniform or Zipf distribution, and the fixed-width key names.

/// SplitMix64: tiny, fast, and good enough to pick keys; seeded per connection so a run with the
/// same `--seed` sends the same command sequence on every connection.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose sequence is fully determined by `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A float uniformly distributed in `[0, 1)` with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A number uniformly distributed in `[0, n)` (`n` > 0), by multiply-shift.
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// Zipf distribution over ranks `0..n`: rank `k` has probability proportional to
/// `1 / (k + 1)^s`. Sampling inverts a precomputed cumulative table (8 bytes per rank, so 8 MB
/// for the default million keys) by binary search, which is exact for any exponent.
#[derive(Debug, Clone)]
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// The table for `n` ranks (`n` ≥ 1) and exponent `s` (≥ 0; 0 is uniform).
    pub fn new(n: u64, s: f64) -> Zipf {
        let n = n.max(1);
        let mut cdf = Vec::with_capacity(n as usize);
        let mut acc = 0.0f64;
        for k in 1..=n {
            acc += 1.0 / (k as f64).powf(s);
            cdf.push(acc);
        }
        let total = acc;
        for c in &mut cdf {
            *c /= total;
        }
        Zipf { cdf }
    }

    /// Number of ranks.
    pub fn len(&self) -> u64 {
        self.cdf.len() as u64
    }

    /// Always false: the table has at least one rank.
    pub fn is_empty(&self) -> bool {
        self.cdf.is_empty()
    }

    /// Maps a uniform `u` in `[0, 1)` to its rank (0 is the most popular).
    pub fn rank_of(&self, u: f64) -> u64 {
        let i = self.cdf.partition_point(|&c| c <= u);
        (i as u64).min(self.len() - 1)
    }

    /// Draws a rank.
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        self.rank_of(rng.next_f64())
    }
}

/// How a key index is chosen for each request.
#[derive(Debug, Clone)]
pub enum KeyDist {
    /// Every key in `0..n` equally likely.
    Uniform(u64),
    /// Zipf-distributed ranks; rank `k` is key index `k`.
    Zipf(std::sync::Arc<Zipf>),
}

impl KeyDist {
    /// Draws a key index.
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        match self {
            KeyDist::Uniform(n) => rng.below(*n),
            KeyDist::Zipf(z) => z.sample(rng),
        }
    }
}

/// Appends `prefix` and `idx` as 12 zero-padded digits: `key:000000000042`, the same shape as
/// redis-benchmark's `key:__rand_int__` and bench/compare.py's memory loader.
pub fn push_key(out: &mut Vec<u8>, prefix: &[u8], idx: u64) {
    out.extend_from_slice(prefix);
    let mut digits = [b'0'; 12];
    let mut n = idx;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    if n > 0 {
        // Wider than 12 digits: write it unpadded instead of truncating.
        let mut tmp = Vec::new();
        crate::resp::push_decimal(&mut tmp, idx);
        out.extend_from_slice(&tmp);
    } else {
        out.extend_from_slice(&digits);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_in_range() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
            let f = a.next_f64();
            b.next_f64();
            assert!((0.0..1.0).contains(&f));
            assert!(a.below(10) < 10);
            b.below(10);
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }

    #[test]
    fn uniform_below_covers_the_range_evenly() {
        let mut r = Rng::new(1);
        let mut counts = [0u32; 10];
        for _ in 0..100_000 {
            counts[r.below(10) as usize] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn zipf_frequencies_follow_the_power_law() {
        let z = Zipf::new(1000, 1.0);
        let mut r = Rng::new(42);
        let mut counts = vec![0u32; 1000];
        let n = 400_000;
        for _ in 0..n {
            let k = z.sample(&mut r);
            assert!(k < 1000);
            counts[k as usize] += 1;
        }
        // P(rank 0) = 1 / H(1000) ≈ 0.1336; P(rank 1) is half of that, P(rank 9) a tenth.
        let p0 = counts[0] as f64 / n as f64;
        assert!((p0 - 0.1336).abs() < 0.005, "p0 {p0}");
        let r01 = counts[0] as f64 / counts[1] as f64;
        assert!((r01 - 2.0).abs() < 0.1, "ratio rank0/rank1 {r01}");
        let r09 = counts[0] as f64 / counts[9] as f64;
        assert!((r09 - 10.0).abs() < 1.0, "ratio rank0/rank9 {r09}");
        assert!(counts[999] < counts[0] / 100);
    }

    #[test]
    fn zipf_exponent_zero_is_uniform_and_bounds_hold() {
        let z = Zipf::new(4, 0.0);
        assert_eq!(z.rank_of(0.0), 0);
        assert_eq!(z.rank_of(0.26), 1);
        assert_eq!(z.rank_of(0.74), 2);
        assert_eq!(z.rank_of(0.999_999), 3);
        assert_eq!(Zipf::new(1, 0.99).rank_of(0.5), 0);
        let big = Zipf::new(1_000_000, 0.99);
        assert_eq!(big.len(), 1_000_000);
        assert_eq!(big.rank_of(1.0 - f64::EPSILON), 999_999);
    }

    #[test]
    fn keys_are_fixed_width() {
        let mut out = Vec::new();
        push_key(&mut out, b"key:", 42);
        assert_eq!(out, b"key:000000000042");
        out.clear();
        push_key(&mut out, b"k", 1_234_567_890_123);
        assert_eq!(out, b"k1234567890123");
    }
}
