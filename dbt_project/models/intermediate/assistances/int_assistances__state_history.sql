-- The lifecycle of each assistance across exports: one row per assistance and state, opened by
-- the first export that showed the state and closed by the export that showed the next one.
-- An assistance missing from a later export keeps its last state open (no export contradicts it).
with exports as (
    select * from {{ ref('stg_esap__assistance_exports') }}
),

sequenced as (
    select
        assistance_id,
        export_date,
        status,
        agreed_date,
        action_plan_date,
        due_date,
        delivered_date,
        lag(status) over (partition by assistance_id order by export_date) as previous_status
    from exports
),

changes as (
    select
        *,
        -- Islands of consecutive exports with the same state (a state may come back later).
        count(*) filter (where previous_status is null or previous_status <> status) over (
            partition by assistance_id order by export_date
            rows between unbounded preceding and current row
        ) as state_number
    from sequenced
),

states as (
    select
        assistance_id,
        state_number,
        min(status) as status,
        min(export_date) as valid_from,
        max(export_date) as last_reported_on,
        count(*) as exports_reporting
    from changes
    group by assistance_id, state_number
),

first_rows as (
    select
        assistance_id,
        state_number,
        agreed_date,
        action_plan_date,
        due_date,
        delivered_date
    from changes
    where previous_status is null or previous_status <> status
),

final as (
    select
        states.assistance_id || '@' || states.valid_from::text as state_history_id,
        states.assistance_id,
        states.state_number::integer as state_number,
        states.status,
        states.valid_from,
        lead(states.valid_from) over (
            partition by states.assistance_id order by states.state_number
        ) as valid_to,
        states.last_reported_on,
        states.exports_reporting::integer as exports_reporting,
        first_rows.agreed_date,
        first_rows.action_plan_date,
        first_rows.due_date,
        first_rows.delivered_date,
        lead(states.valid_from) over (
            partition by states.assistance_id order by states.state_number
        ) is null as is_current
    from states
    inner join first_rows
        on
            states.assistance_id = first_rows.assistance_id
            and states.state_number = first_rows.state_number
)

select * from final
