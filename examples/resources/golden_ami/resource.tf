resource "golden_ami" "web" {
  name_prefix   = "web-"
  description   = "nginx on Amazon Linux 2023"
  instance_type = "t3.micro"

  source_ami_filter {
    filters = {
      "name"                = "al2023-ami-*-x86_64"
      "root-device-type"    = "ebs"
      "virtualization-type" = "hvm"
    }
    owners      = ["amazon"]
    most_recent = true
  }

  ssh {
    username = "ec2-user"
  }

  provision {
    shell {
      inline = ["sudo dnf install -y nginx", "sudo systemctl enable nginx"]
    }
  }
  provision {
    file {
      content     = "server_tokens off;\n"
      destination = "/tmp/security.conf"
    }
  }
  provision {
    shell {
      inline = ["sudo mv /tmp/security.conf /etc/nginx/conf.d/security.conf"]
    }
  }

  tags          = { Name = "web" }
  snapshot_tags = { Name = "web-root" }
  run_tags      = { Purpose = "build" }

  timeouts {
    create = "60m"
    delete = "20m"
  }
}

# Pass the image on: aws_instance.ami, a launch template, or another module.
output "web_ami_id" {
  value = golden_ami.web.id
}
