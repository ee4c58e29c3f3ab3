# A channel comes under golden_channel by its name (the parameter below channel_path_prefix).
terraform import golden_channel.web_prod web/prod
