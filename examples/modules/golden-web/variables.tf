variable "channel" {
  description = "The channel this image is published on, e.g. web/staging."
  type        = string
}

variable "web_version" {
  description = "What the image holds; a change bakes a new image."
  type        = string
  default     = "1"
}

variable "name_prefix" {
  type    = string
  default = "golden-web-"
}

variable "instance_type" {
  type    = string
  default = "t3.micro"
}

variable "source_ami_name" {
  description = "Name pattern of the base image."
  type        = string
  default     = "*amzn-ami-hvm-*"
}

variable "source_ami_owners" {
  type    = list(string)
  default = ["amazon"]
}

variable "keep_previous" {
  description = "How many earlier images stay launchable after a rebake."
  type        = number
  default     = 1
}

# Where the build instance is reached. On AWS leave these at their defaults:
# the provider connects to the instance's address.
variable "ssh_username" {
  type    = string
  default = "ec2-user"
}

variable "ssh_host" {
  type    = string
  default = null
}

variable "ssh_port" {
  type    = number
  default = 22
}
