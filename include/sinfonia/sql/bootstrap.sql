-- Schemas and bookkeeping tables of the warehouse. Idempotent: run before every load.
-- The sources' own tables are not here: db.bootstrap creates them from the source catalogue.
create schema if not exists raw;
create schema if not exists meta;
create schema if not exists marts;

create table if not exists meta.landed_file (
    sha256        text primary key,
    source        text not null,
    period        text,
    file_name     text not null,
    origin        text not null,
    size_bytes    bigint not null,
    fetched_at    timestamptz not null default now(),
    published_on  date,
    stored_path   text not null
);

create table if not exists meta.load_run (
    load_id           bigserial primary key,
    source            text not null,
    period            text not null,
    files             text[] not null,
    started_at        timestamptz not null,
    finished_at       timestamptz,
    rows_read         integer not null default 0,
    rows_loaded       integer not null default 0,
    rows_quarantined  integer not null default 0,
    notes_skipped     integer not null default 0,
    status            text not null,
    message           text,
    constraint load_run_reconciles check (
        status <> 'loaded' or rows_read = rows_loaded + rows_quarantined
    )
);

create table if not exists meta.quarantine (
    load_id      bigint not null references meta.load_run (load_id) on delete cascade,
    source       text not null,
    period       text not null,
    file_name    text not null,
    row_number   integer not null,
    column_name  text,
    value        text,
    reason       text not null,
    record       jsonb
);
create index if not exists quarantine_source_period on meta.quarantine (source, period);

create table if not exists meta.gate_result (
    gate_run_id   bigserial primary key,
    run_id        text,
    suite         text not null,
    asset         text not null,
    severity      text not null,
    expectation   text not null,
    column_name   text,
    success       boolean not null,
    observed      jsonb,
    checked_at    timestamptz not null default now()
);

create table if not exists meta.publication (
    publication_id  bigserial primary key,
    run_id          text,
    published_at    timestamptz not null default now(),
    tables          jsonb not null
);

-- Person-level data (ESAP equipos, Ley 1581 de 2012): only pseudonymised rows, never in raw.
-- Nothing here is granted to analysts; roles are granted elsewhere, on marts only.
create schema if not exists restricted;
revoke all on schema restricted from public;

-- One row per suite per gate execution: the summary analysts and operators query.
create table if not exists meta.gate_run (
    gate_run_id          bigserial primary key,
    run_id               text,
    gate                 text not null,
    suite                text not null,
    asset                text not null,
    passed               integer not null,
    failed_critical      integer not null,
    failed_warning       integer not null,
    failed_expectations  text[] not null,
    observed             jsonb not null,
    seconds              numeric not null,
    checked_at           timestamptz not null default now()
);
create index if not exists gate_run_run on meta.gate_run (run_id);
-- What the suite read, as sinfonia.gates fingerprints it (its own text and every table it reads,
-- row by row), and the earlier passing run whose results this one took instead of validating the
-- same rows again: a table of before the reuse gets both columns once.
alter table meta.gate_run add column if not exists fingerprint text,
    add column if not exists reused_from bigint;
create index if not exists gate_run_fingerprint on meta.gate_run (suite, fingerprint);

-- The weekly message to each directorate (DAG sinfonia_monitoring, sinfonia.notify): one row per
-- export week and directorate, with the figures the message gave. Claimed ('sending') before it is
-- sent; a 'sent' row is never sent again (a re-run of the week sends nothing new); a failed send
-- keeps its error and is claimed again by the next run; a 'sending' row whose run died is left
-- for an operator (never re-sent automatically). The rank of the previous week's row is the "change since last week".
create table if not exists meta.notification_sent (
    export_week    date not null,
    directorate_id text not null,
    as_of_date     date not null,
    goal_year      integer,
    rank           integer,
    points         numeric,
    goal           integer,
    delivered      integer,
    open_items     integer,
    flagged_items  integer,
    recipients     text[] not null,
    subject        text not null,
    status         text not null constraint notification_sent_status_check
                   check (status in ('sending', 'sent', 'failed')),
    error          text,
    attempts       integer not null default 1,
    run_id         text,
    sent_at        timestamptz,
    updated_at     timestamptz not null default now(),
    message_id     text,
    claimed_at     timestamptz,
    primary key (export_week, directorate_id)
);
-- A table of before the claim ('sending', message_id, claimed_at): brought up to date once.
do $$
begin
    if not exists (select 1 from pg_attribute where attrelid = 'meta.notification_sent'::regclass
                   and attname = 'claimed_at' and not attisdropped) then
        alter table meta.notification_sent add column message_id text, add column claimed_at timestamptz,
            drop constraint if exists notification_sent_status_check,
            add constraint notification_sent_status_check check (status in ('sending', 'sent', 'failed'));
    end if;
end $$;
