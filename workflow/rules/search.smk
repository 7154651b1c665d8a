# Visual search asymmetry (eccNET). The models arrive in a later issue; its search displays already come from the
# shared stimulus world.


rule search:
    input:
        rules.stimuli_displays.output,
