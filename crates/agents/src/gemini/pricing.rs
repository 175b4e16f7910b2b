//! Gemini reports tokens but no cost (B.2): cost is computed here from list prices.
//!
//! Prices are Google's paid-tier list prices in US dollars per million tokens for prompts up to
//! 200k tokens (longer prompts cost more; not modelled), as published for the 2.5 / 3 families.
//! A model not in the table costs 0, so an unknown model never invents a figure. Output prices
//! include thinking tokens, which the CLI does not count in `output_tokens`: costs are a lower
//! bound for thinking models.

/// `(model id prefix, input, cached input, output)`, USD per million tokens. Longest prefixes
/// first, so `gemini-2.5-flash-lite` is not priced as `gemini-2.5-flash`.
const PRICES: &[(&str, f64, f64, f64)] = &[
    ("gemini-3-pro", 2.00, 0.20, 12.00),
    ("gemini-2.5-flash-lite", 0.10, 0.01, 0.40),
    ("gemini-2.5-flash", 0.30, 0.03, 2.50),
    ("gemini-2.5-pro", 1.25, 0.125, 10.00),
    ("gemini-2.0-flash-lite", 0.075, 0.075, 0.30),
    ("gemini-2.0-flash", 0.10, 0.025, 0.40),
];

/// Costs are rounded to this many decimal places (float noise).
const COST_DECIMALS: i32 = 10;

/// The cost of `input` uncached prompt tokens, `cached` prompt tokens read from the cache and
/// `output` response tokens on `model`; 0 for a model without a known price.
pub fn cost_usd(model: &str, input: u64, cached: u64, output: u64) -> f64 {
    let Some(&(_, input_price, cached_price, output_price)) =
        PRICES.iter().find(|(prefix, ..)| model.starts_with(prefix))
    else {
        return 0.0;
    };
    let per_token = |count: u64, price: f64| count as f64 * price / 1_000_000.0;
    let cost = per_token(input, input_price)
        + per_token(cached, cached_price)
        + per_token(output, output_price);
    let scale = 10f64.powi(COST_DECIMALS);
    (cost * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_by_longest_prefix() {
        assert_eq!(cost_usd("gemini-2.5-pro", 1_000_000, 0, 0), 1.25);
        assert_eq!(cost_usd("gemini-2.5-flash-lite", 0, 0, 1_000_000), 0.4);
        assert_eq!(cost_usd("gemini-2.5-flash", 80, 30, 20), 0.0000749);
        assert_eq!(cost_usd("some-other-model", 1000, 1000, 1000), 0.0);
    }
}
