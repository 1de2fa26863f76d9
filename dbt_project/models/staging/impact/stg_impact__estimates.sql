-- The impact estimator's rows (source impact.impact_estimates, written by the impact DAG), typed:
-- the columns of this model's yml, each from the source when it has it, else a typed null (a
-- column the estimator does not produce yet). Before the estimator has ever run (a new warehouse)
-- the source does not exist and this view is empty. The shape is the macro typed_computed_source.
{{ typed_computed_source('impact', 'impact_estimates') }}
