# The staging stack: launches whatever web/staging holds. It never reads the
# image stack's state; the channel is the contract between the two.

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

data "golden_ami" "web" {
  channel = "web/staging"
}

output "ami_id" {
  value = data.golden_ami.web.id
}

output "ami_name" {
  value = data.golden_ami.web.name
}
