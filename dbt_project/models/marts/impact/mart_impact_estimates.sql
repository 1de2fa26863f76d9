-- The impact estimates (method: README, "Impact"): one row per outcome, method and event time (null for
-- the overall effect), as the impact DAG's estimator computed them (stg_impact__estimates).
-- Built into marts_build under an enforced contract, tested, gated and published like every mart.
with estimates as (
    select * from {{ ref('stg_impact__estimates') }}
),

final as (
    select
        outcome,
        method,
        event_time,
        estimate,
        std_error,
        ci_low,
        ci_high,
        p_value,
        n_treated,
        n_treated_changed,
        n_control,
        threshold,
        p_value_adjusted,
        p_adjust_method,
        min_detectable_effect,
        band_draws,
        band_seed,
        band_low,
        band_high,
        base_period,
        verdict,
        verdict_reason,
        diagnostics,
        computed_at
    from estimates
)

select * from final
