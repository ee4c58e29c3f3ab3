# Packer's seed template `packer-builders.json` (amazon-ebs, no provisioners) as one
# golden_ami resource. Against real AWS leave the test-bed variables at their defaults.

terraform {
  required_providers {
    golden = { source = "golden-ami/golden" }
  }
}

variable "aws_region" {
  type    = string
  default = "us-east-1"
}

# Test-bed knobs: an EC2 emulator and an SSH server standing in for the instance.
variable "ec2_endpoint" {
  type    = string
  default = null
}
variable "ssh_host" {
  type    = string
  default = null
}
variable "ssh_port" {
  type    = number
  default = 22
}
variable "ssh_username" {
  type    = string
  default = "ec2-user"
}

provider "golden" {
  region = var.aws_region
  endpoints {
    ec2 = var.ec2_endpoint
  }
}

resource "golden_ami" "amazon_linux" {
  # ami_name = "training-amazon-linux-{{isotime | clean_resource_name}}"
  name_prefix   = "training-amazon-linux-"
  description   = "Linux-AMI"
  instance_type = "t2.micro"

  source_ami_filter {
    filters = {
      "virtualization-type"              = "hvm"
      "architecture"                     = "x86_64"
      "name"                             = "*amzn-ami-hvm-*"
      "block-device-mapping.volume-type" = "gp2"
      "root-device-type"                 = "ebs"
    }
    owners      = ["amazon"]
    most_recent = true
  }

  ssh {
    username = var.ssh_username
    host     = var.ssh_host
    port     = var.ssh_port
  }
}

output "ami_id" {
  value = golden_ami.amazon_linux.id
}

output "ami_name" {
  value = golden_ami.amazon_linux.name
}
