# The decoding family: rules arrive with the family (each calls `neuromodels decoding <step>`).


rule decoding:
    input:
        [],
