# An AMI made outside Terraform (or by Packer) comes under golden_ami by its id.
terraform import golden_ami.web ami-0123456789abcdef0
