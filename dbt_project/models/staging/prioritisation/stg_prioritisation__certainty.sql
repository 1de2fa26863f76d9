-- The certainty rows of the prioritised lists (source prioritisation.prioritisation_certainty,
-- written by the prioritisation DAG), typed as this model's yml declares. Before the first
-- prioritisation run the source does not exist and this model is empty. The shape is the macro
-- typed_computed_source.
{{ typed_computed_source('prioritisation', 'prioritisation_certainty') }}
