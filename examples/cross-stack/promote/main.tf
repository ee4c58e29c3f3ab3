# The promotion stack: points web/prod at what staging runs. Applying it again
# after staging moved on promotes the new image; SSM keeps every earlier
# promotion as a parameter version (data source `channel_version` reads one).

terraform {
  required_providers {
    golden = { source = "golden-ami/golden" }
  }
}

provider "golden" {
  region = var.aws_region
  endpoints {
    ec2 = var.ec2_endpoint
    ssm = var.ssm_endpoint
  }
}

data "golden_ami" "staging" {
  channel = "web/staging"
}

resource "golden_channel" "prod" {
  name   = "web/prod"
  ami_id = data.golden_ami.staging.id
}

output "prod_ami_id" {
  value = golden_channel.prod.ami_id
}
