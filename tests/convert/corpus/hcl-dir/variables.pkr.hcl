variable "region" {
  type    = string
  default = "us-east-1"
}

variable "app_version" {
  type        = string
  description = "Release to bake"
  validation {
    condition     = length(var.app_version) > 0
    error_message = "The release must not be empty."
  }
}

variable "token" {
  type      = string
  default   = env("APP_TOKEN")
  sensitive = true
}

locals {
  owners = ["amazon"]
  stage  = "prod"
}
