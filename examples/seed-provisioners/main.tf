# Packer's seed template `packer-provisioners.json` (amazon-ebs + shell, file, shell) as one
# golden_ami resource. Against real AWS leave the test-bed variables at their defaults; a
# server then uses the image with:
#
#   resource "aws_instance" "web" {
#     ami           = golden_ami.amazon_linux.id
#     instance_type = "t3.micro"
#   }

terraform {
  required_providers {
    golden = { source = "golden-ami/golden" }
  }
}

variable "aws_region" {
  type    = string
  default = "us-east-1"
}

# Test-bed knobs: an EC2 emulator, an SSH server standing in for the instance, and a
# directory its user may write instead of /opt/packer.
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
variable "remote_dir" {
  type    = string
  default = "/opt/packer"
}

provider "golden" {
  region = var.aws_region
  endpoints {
    ec2 = var.ec2_endpoint
  }
}

resource "golden_ami" "amazon_linux" {
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

  provision {
    shell {
      inline = [
        "sudo mkdir -p ${var.remote_dir}",
        "sudo mkdir -p ${var.remote_dir}/nginx",
        "sudo chown -R ${var.ssh_username}:${var.ssh_username} ${var.remote_dir}",
      ]
    }
  }

  provision {
    file {
      source      = "${path.module}/wordpress-nginx.sh"
      destination = "${var.remote_dir}/wordpress-nginx.sh"
    }
  }

  provision {
    shell {
      inline = ["${var.remote_dir}/wordpress-nginx.sh"]
    }
  }

  tags          = { Name = "training-amazon-linux" }
  snapshot_tags = { Name = "training-amazon-linux-root" }
}

output "ami_id" {
  value = golden_ami.amazon_linux.id
}

output "ami_name" {
  value = golden_ami.amazon_linux.name
}
