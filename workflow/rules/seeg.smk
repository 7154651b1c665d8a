# The seeg family: rules arrive with the family (each calls `neuromodels seeg <step>`).


rule seeg:
    input:
        [],
