# Trainable encoders shared by several families (trained on the stimulus world): rules arrive with networks/.
