"""Training a real vision-language model on mmevol data (TRL ``SFTTrainer``; extra ``[train]``)."""
