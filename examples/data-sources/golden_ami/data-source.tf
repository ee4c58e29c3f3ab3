# What a channel holds: the image promoted to web/prod (see golden_channel).
data "golden_ami" "prod" {
  channel = "web/prod"
}

# The image before the last promotion, for a rollback.
data "golden_ami" "previous" {
  channel         = "web/prod"
  channel_version = 1
}

# The newest image of a bake, by its name prefix and tags, in another region.
data "golden_ami" "web" {
  name_prefix = "web-"
  tags        = { team = "web" }
  region      = "eu-west-1"
}

# Pass the image on: aws_instance.ami, a launch template, or another module.
output "prod_ami_id" {
  value = data.golden_ami.prod.id
}

output "web_ami_ids_by_region" {
  value = data.golden_ami.web.region_ami_ids
}
