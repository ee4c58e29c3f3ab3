# A baking module: one golden image of the web tier, published on a channel.
# Stacks that use it with the same inputs share one image (reuse_identical);
# a rebake keeps the previous image launchable for one more rollout.

terraform {
  required_providers {
    golden = { source = "golden-ami/golden" }
  }
}

resource "golden_ami" "web" {
  name_prefix   = var.name_prefix
  description   = "Web tier, published on ${var.channel}"
  instance_type = var.instance_type

  source_ami_filter {
    filters = {
      "name"                = var.source_ami_name
      "virtualization-type" = "hvm"
      "root-device-type"    = "ebs"
    }
    owners      = var.source_ami_owners
    most_recent = true
  }

  # Two stacks calling this module with the same inputs bake once.
  reuse_identical = true
  # A rebake leaves the previous image launchable (deprecated) for a rollback.
  keep_previous = var.keep_previous

  ssh {
    username = var.ssh_username
    host     = var.ssh_host
    port     = var.ssh_port
  }

  provision {
    shell {
      inline = ["echo 'web tier ${var.web_version}' > /tmp/golden-web-version"]
    }
  }

  tags = {
    Tier    = "web"
    Version = var.web_version
  }
}

# The channel consumers read: SSM parameter <prefix>/<channel> in every region
# the image is in, which launch templates can resolve without this provider.
resource "golden_channel" "this" {
  name   = var.channel
  ami_id = golden_ami.web.id
}
