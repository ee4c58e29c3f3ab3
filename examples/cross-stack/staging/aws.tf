# The AWS side of the staging stack (hashicorp/aws). Two ways to consume the channel:

# 1. Through the data source: the id is fixed in this stack's plan, so a promotion
#    shows up as a planned replacement of the instance.
resource "aws_instance" "web" {
  ami           = data.golden_ami.web.id
  instance_type = "t3.micro"
}

# 2. Without this provider at all: EC2 resolves the parameter at each launch, so
#    an autoscaling group picks up a promotion on its next scale-out or refresh.
resource "aws_launch_template" "web" {
  name_prefix   = "web-staging-"
  image_id      = "resolve:ssm:/golden/channel/web/staging"
  instance_type = "t3.micro"
}
