# The image stack: bakes the web image and publishes it on web/staging.
# Its state is its own; nothing else reads it.

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

module "web" {
  source = "../../modules/golden-web"

  channel     = "web/staging"
  web_version = var.web_version

  ssh_host     = var.ssh_host
  ssh_port     = var.ssh_port
  ssh_username = var.ssh_username
}

variable "web_version" {
  type    = string
  default = "1"
}

output "ami_id" {
  value = module.web.ami_id
}
