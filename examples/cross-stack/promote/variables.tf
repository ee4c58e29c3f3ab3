variable "aws_region" {
  type    = string
  default = "us-east-1"
}

# Test-bed knobs: against AWS leave them at their defaults (the standard endpoints).
variable "ec2_endpoint" {
  type    = string
  default = null
}

variable "ssm_endpoint" {
  type    = string
  default = null
}
