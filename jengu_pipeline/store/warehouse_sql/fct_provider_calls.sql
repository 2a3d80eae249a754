-- One row per external call (cache hits and refusals included), from the provider ledger.
CREATE TABLE fct_provider_calls AS
SELECT call_id, provider, operation, outcome, outcome = 'ok' AS is_ok, outcome = 'cache_hit' AS is_cache_hit,
       latency_ms, cost_units, batch_id, created_at,
       CAST(timezone((SELECT schedule_timezone FROM src_params), created_at) AS DATE) AS call_day
FROM src_provider_calls;
