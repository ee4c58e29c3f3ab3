# The AMI to publish: usually a golden_ami in the same configuration
# (ami_id = golden_ami.web.id), here a variable to keep the example short.
variable "web_ami_id" {
  type = string
}

# Publishes the image as the channel web/prod: the SSM parameter
# /golden/channel/web/prod (data type aws:ec2:image) in every region where
# the image has a copy. A new ami_id promotes in place; SSM keeps the
# earlier ids as versions.
resource "golden_channel" "web_prod" {
  name   = "web/prod"
  ami_id = var.web_ami_id
}

# Consumers without this provider use the parameter itself, e.g. as a
# launch template's image_id: "resolve:ssm:/golden/channel/web/prod".
output "web_prod_image_id" {
  value = golden_channel.web_prod.resolve_ssm
}
