# The brainscore family: rules arrive with the family (each calls `neuromodels brainscore <step>`).


rule brainscore:
    input:
        [],
