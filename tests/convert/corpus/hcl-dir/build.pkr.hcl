packer {
  required_plugins {
    amazon = {
      version = ">= 1.2.0"
      source  = "github.com/hashicorp/amazon"
    }
  }
}

source "amazon-ebs" "web" {
  region        = var.region
  ami_name      = "web-${var.app_version}-${formatdate("YYYYMMDDhhmmss", timestamp())}"
  instance_type = "t3.micro"
  source_ami_filter {
    filters = {
      name                = "al2023-ami-*-x86_64"
      virtualization-type = "hvm"
    }
    owners      = local.owners
    most_recent = true
  }
  ssh_username = "ec2-user"
  tags = {
    Name  = "web"
    Stage = local.stage
  }
}

build {
  name    = "images"
  sources = ["source.amazon-ebs.web"]

  source "source.amazon-ebs.web" {
    name          = "web_large"
    instance_type = "t3.large"
  }

  provisioner "shell" {
    inline           = ["echo ${var.app_version}", "echo ${upper(local.stage)}"]
    env              = { TOKEN = var.token }
    max_retries      = 1
    pause_before     = "2s"
  }

  provisioner "file" {
    source      = "${path.root}/motd"
    destination = "/etc/motd"
    only        = ["amazon-ebs.web_large"]
  }

  provisioner "shell" {
    inline = ["echo ${build.ID}"]
  }

  post-processor "manifest" {}
}
