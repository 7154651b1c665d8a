# Gaze scanpaths (OAT). The models arrive in a later issue; the family's stimuli (displays with objects and a
# target) already come from the shared stimulus world.


rule gaze:
    input:
        rules.stimuli_displays.output,
